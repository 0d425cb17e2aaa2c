/** `pyairtable.auth`: sign-in and out, session events and permission checks. */
import type { Clock } from '../clock.js';
import { NotFoundError, PermissionDeniedError } from '../errors.js';
import type { AuthService } from '../services/auth.js';
import type { Permissions, User } from '../types/index.js';
import { DirectTokenProvider, type TokenProvider } from './provider.js';
import type { Session, SessionListener } from './session.js';

export class AuthManager {
  private readonly permissionCache = new Map<
    string,
    { until: number; value: Promise<Permissions> }
  >();

  constructor(
    readonly provider: TokenProvider,
    private readonly service: AuthService,
    private readonly options: { clock: Clock; permissionsTTL: number },
  ) {
    provider.subscribe((event) => {
      if (event.kind !== 'refreshed') this.permissionCache.clear();
    });
  }

  /** The direct provider's session (null with another provider, or signed out). */
  get session(): Session | null {
    return this.provider instanceof DirectTokenProvider ? this.provider.session : null;
  }

  get user(): User | null {
    return this.session?.user ?? null;
  }

  get isAuthenticated(): boolean {
    return this.provider.userId() !== null;
  }

  /**
   * Signs in with email and password (the direct provider).
   *
   * @throws AuthenticationError wrong credentials. @throws RateLimitedError too many failures.
   * @throws TypeError the integration was given another token provider.
   */
  login(email: string, password: string): Promise<Session> {
    return this.direct().login(email, password);
  }

  /** Ends the session on the backend (best effort) and here. */
  logout(): Promise<void> {
    return this.direct().logout();
  }

  /** Calls `listener` on every session change; returns the function that stops it. */
  onSessionChange(listener: SessionListener): () => void {
    return this.provider.subscribe(listener);
  }

  /** The caller's role and permissions in a workspace, cached for `permissionsTTL`. */
  permissions(workspaceId: string): Promise<Permissions> {
    const now = this.options.clock.now();
    const cached = this.permissionCache.get(workspaceId);
    if (cached !== undefined && cached.until > now) return cached.value;
    const value = this.service.getPermissions(workspaceId);
    this.permissionCache.set(workspaceId, { until: now + this.options.permissionsTTL, value });
    value.catch(() => this.permissionCache.delete(workspaceId));
    return value;
  }

  /** Whether the user holds `permission` (`"record:write"`) in a workspace; not a member is false. */
  async can(permission: string, { workspaceId }: { workspaceId: string }): Promise<boolean> {
    try {
      const granted: readonly string[] = (await this.permissions(workspaceId)).permissions;
      return granted.includes(permission);
    } catch (error) {
      if (error instanceof NotFoundError) return false;
      throw error;
    }
  }

  /** Returns when the user holds `permission`. @throws PermissionDeniedError they do not. */
  async require(permission: string, { workspaceId }: { workspaceId: string }): Promise<void> {
    if (!(await this.can(permission, { workspaceId }))) {
      throw new PermissionDeniedError(`You need ${permission} in this workspace.`, {
        details: { permission, workspace_id: workspaceId },
        service: 'auth',
      });
    }
  }

  private direct(): DirectTokenProvider {
    if (!(this.provider instanceof DirectTokenProvider)) {
      throw new TypeError(
        'login and logout belong to the token provider this integration was given.',
      );
    }
    return this.provider;
  }
}
