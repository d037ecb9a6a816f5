// Vault/OpenBao HTTP emulator for tests: a real node:http server on 127.0.0.1 that follows Vault's API
// (KV v1/v2, tokens, ACL policies, AppRole/Kubernetes/JWT logins, health, seal/standby, namespaces)
// plus fault injection and a request log. Implementation lives in ./vault-emulator/.
export { VaultEmulator, type VaultEmulatorOptions } from './vault-emulator/server.js';
export type { MountSpec } from './vault-emulator/state.js';
export type { FaultHandle, FaultSpec, LoggedRequest } from './vault-emulator/faults.js';
export type { AppRoleSpec, AuthType, JwtRoleSpec } from './vault-emulator/auth.js';
export { serviceAccountClaims } from './vault-emulator/auth.js';
export type { CreateTokenOptions } from './vault-emulator/tokens.js';

import { VaultEmulator, type VaultEmulatorOptions } from './vault-emulator/server.js';

/** Starts an emulator (port 0 unless given). */
export function startVaultEmulator(opts: VaultEmulatorOptions = {}): Promise<VaultEmulator> {
  return VaultEmulator.start(opts);
}
