/**
 * Where passwords come from: an explicit user list (a SIPp-style users file) first, then a
 * template such as "{user}-secret" that gives every user a password (so 100,000 virtual users need
 * no file). Unknown user = neither source knows them.
 */
export class CredentialStore {
  constructor(
    private readonly users: ReadonlyMap<string, string>,
    private readonly template: string | null,
  ) {}

  passwordFor(user: string): string | undefined {
    const explicit = this.users.get(user);
    if (explicit !== undefined) return explicit;
    return this.template === null ? undefined : this.template.replaceAll("{user}", user);
  }
}
