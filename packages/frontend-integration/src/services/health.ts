import type { Health, ServiceHealth } from '../types/index.js';
import { type CallOptions, Service } from './base.js';

/** `/health`: the backend's services, up or down (no token needed). */
export class HealthService extends Service {
  readonly name = 'health';

  async getHealth(options: CallOptions = {}): Promise<Health> {
    return this.body(this.ctx.api.GET('/health', this.via({ ...options, authenticated: false })));
  }

  /** @throws NotFoundError an unknown service name. */
  async getServiceHealth(service: string, options: CallOptions = {}): Promise<ServiceHealth> {
    return this.body(
      this.ctx.api.GET('/health/{service}', {
        params: { path: { service } },
        ...this.via({ ...options, authenticated: false }),
      }),
    );
  }
}
