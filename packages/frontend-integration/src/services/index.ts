import { AuthService } from './auth.js';
import type { ServiceContext } from './base.js';
import { BaseService } from './bases.js';
import { EventService } from './events.js';
import { FieldService } from './fields.js';
import { FileService } from './files.js';
import { HealthService } from './health.js';
import { RecordService } from './records.js';
import { TableService } from './tables.js';
import { UserService } from './users.js';
import { ViewService } from './views.js';
import { WebhookService } from './webhooks.js';
import { WorkspaceService } from './workspaces.js';

/** `pyairtable.services.<name>`: one client per backend service, one verb set. */
export interface Services {
  auth: AuthService;
  user: UserService;
  workspace: WorkspaceService;
  base: BaseService;
  table: TableService;
  field: FieldService;
  view: ViewService;
  record: RecordService;
  file: FileService;
  webhook: WebhookService;
  event: EventService;
  health: HealthService;
}

export function createServices(ctx: ServiceContext): Services {
  return Object.freeze({
    auth: new AuthService(ctx),
    user: new UserService(ctx),
    workspace: new WorkspaceService(ctx),
    base: new BaseService(ctx),
    table: new TableService(ctx),
    field: new FieldService(ctx),
    view: new ViewService(ctx),
    record: new RecordService(ctx),
    file: new FileService(ctx),
    webhook: new WebhookService(ctx),
    event: new EventService(ctx),
    health: new HealthService(ctx),
  });
}
