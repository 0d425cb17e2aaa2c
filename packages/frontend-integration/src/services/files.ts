/**
 * `/files`: uploads (multipart, with progress), file records, signed URLs and downloads.
 *
 * Upload progress: `fetch` cannot report it in browsers (a streamed request body needs HTTP/2
 * in Chromium), so where `XMLHttpRequest` exists the upload goes through it; elsewhere (Node,
 * workers) the multipart body is streamed and counted as `fetch` pulls it. Either way the call
 * passes the transport (auth, breaker, retries with one idempotency key).
 */
import { keys } from '../cache/keys.js';
import { NetworkError, TimeoutError } from '../errors.js';
import type { Fetch, UploadProgress } from '../transport/client.js';
import { checkId } from '../transport/ids.js';
import type { FileRecord, SignedUrl, StorageUsage } from '../types/index.js';
import { type CallOptions, Service, type WriteOptions } from './base.js';

export type ProgressListener = (progress: UploadProgress) => void;

export interface UploadOptions extends WriteOptions {
  /** The file's name, when `file` is a Blob without one. */
  filename?: string;
  /** The table whose workspace the file belongs to (else it is private to its uploader). */
  tableId?: string;
  /** Attach the file to this record's `field` as well. */
  recordId?: string;
  field?: string;
  onProgress?: ProgressListener;
}

export interface DownloadOptions extends CallOptions {
  onProgress?: ProgressListener;
}

const CHUNK = 64 * 1024;

export class FileService extends Service {
  readonly name = 'file';

  /**
   * Uploads `file` (201).
   *
   * @throws PayloadTooLargeError over the backend's limit, or past the caller's or the
   *   workspace's storage quota (`type` `QUOTA_EXCEEDED`).
   */
  async uploadFile(file: Blob, options: UploadOptions = {}): Promise<FileRecord> {
    const form = new FormData();
    const name = options.filename ?? (file as { name?: string }).name ?? 'file';
    form.append('file', file, name);
    if (options.tableId !== undefined)
      form.append('table_id', checkId('tbl', options.tableId, 'tableId'));
    if (options.recordId !== undefined)
      form.append('record_id', checkId('rec', options.recordId, 'recordId'));
    if (options.field !== undefined) form.append('field', options.field);
    const spec: Parameters<typeof this.ctx.transport.send>[0] = {
      service: this.name,
      method: 'POST',
      url: '/files/upload',
      body: form,
    };
    if (options.signal) spec.signal = options.signal;
    if (options.timeout !== undefined) spec.timeout = options.timeout;
    if (options.deadline !== undefined) spec.deadline = options.deadline;
    if (options.idempotencyKey !== undefined) spec.idempotencyKey = options.idempotencyKey;
    const listener = options.onProgress;
    if (listener !== undefined) {
      if (typeof XMLHttpRequest === 'function') {
        spec.send = xhrSend(listener);
      } else {
        // Serialise the multipart body once, then stream it, counting what fetch pulls.
        const encoded = new Response(form);
        const type = encoded.headers.get('Content-Type') ?? 'multipart/form-data';
        const bytes = new Uint8Array(await encoded.arrayBuffer());
        spec.body = null;
        spec.headers = { 'Content-Type': type };
        spec.send = (url, init) =>
          fetch(url, {
            ...init,
            body: countingStream(bytes, listener),
            duplex: 'half',
          } as RequestInit);
      }
    }
    const response = await this.ctx.transport.send(spec);
    const answer = await this.body(
      Promise.resolve({ data: await response.json().catch(() => undefined), response }),
    );
    const record = (answer as { file: FileRecord }).file;
    if (options.recordId !== undefined)
      this.ctx.changed({ kind: 'invalidate', keys: [keys.record(options.recordId)] });
    return record;
  }

  async getFile(fileId: string, options: CallOptions = {}): Promise<FileRecord> {
    const file_id = checkId('fil', fileId, 'fileId');
    return this.ctx.reads.read(
      keys.file(fileId),
      () =>
        this.body(
          this.ctx.api.GET('/files/{file_id}', {
            params: { path: { file_id } },
            ...this.via(options),
          }),
        ),
      'default',
    );
  }

  /** A signed URL that works without a token until `expires_at`. */
  async getFileUrl(fileId: string, options: CallOptions = {}): Promise<SignedUrl> {
    const file_id = checkId('fil', fileId, 'fileId');
    return this.body(
      this.ctx.api.GET('/files/{file_id}/url', {
        params: { path: { file_id } },
        ...this.via(options),
      }),
    );
  }

  /**
   * The bytes of stored files counted against the caller's storage quota, and against
   * `workspaceId`'s when given (`quota_bytes` is null where there is no limit).
   *
   * @throws NotFoundError the workspace does not exist or the caller is not a member.
   */
  async getStorageUsage(
    options: CallOptions & { workspaceId?: string } = {},
  ): Promise<StorageUsage> {
    const { workspaceId, ...call } = options;
    const query =
      workspaceId === undefined ? {} : { workspace_id: checkId('wsp', workspaceId, 'workspaceId') };
    return this.body(this.ctx.api.GET('/files/usage', { params: { query }, ...this.via(call) }));
  }

  /**
   * The file's bytes as a Blob, reporting progress as they arrive.
   *
   * @throws NetworkError the download was cut off midway.
   */
  async downloadFile(fileId: string, options: DownloadOptions = {}): Promise<Blob> {
    const file_id = checkId('fil', fileId, 'fileId');
    const spec: Parameters<typeof this.ctx.transport.send>[0] = {
      service: this.name,
      method: 'GET',
      url: `/files/${file_id}/content`,
      stream: true,
    };
    if (options.signal) spec.signal = options.signal;
    if (options.timeout !== undefined) spec.timeout = options.timeout;
    const response = await this.ctx.transport.send(spec);
    const length = Number(response.headers.get('Content-Length'));
    const total = Number.isFinite(length) && length > 0 ? length : null;
    const type = response.headers.get('Content-Type') ?? 'application/octet-stream';
    const chunks: Uint8Array[] = [];
    let loaded = 0;
    const reader = response.body?.getReader();
    try {
      for (;;) {
        const part = reader ? await reader.read() : { done: true as const, value: undefined };
        if (part.done) break;
        chunks.push(part.value);
        loaded += part.value.byteLength;
        options.onProgress?.({ loaded, total });
      }
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason;
      throw new NetworkError('The download was cut off.', { service: this.name, cause: error });
    }
    if (total !== null && loaded !== total) {
      throw new NetworkError(`The download ended after ${loaded} of ${total} bytes.`, {
        service: this.name,
      });
    }
    return new Blob(chunks as BlobPart[], { type });
  }

  /** Deletes the file and detaches it from every record. */
  async deleteFile(fileId: string, options: WriteOptions = {}): Promise<void> {
    const file_id = checkId('fil', fileId, 'fileId');
    await this.empty(
      this.ctx.api.DELETE('/files/{file_id}', {
        params: { path: { file_id } },
        ...this.via(options),
      }),
    );
    this.ctx.changed({ kind: 'invalidate', keys: [keys.file(fileId)] });
  }
}

function countingStream(bytes: Uint8Array, listener: ProgressListener): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.byteLength) {
        controller.close();
        return;
      }
      const end = Math.min(offset + CHUNK, bytes.byteLength);
      controller.enqueue(bytes.subarray(offset, end));
      offset = end;
      listener({ loaded: offset, total: bytes.byteLength });
    },
  });
}

function xhrSend(listener: ProgressListener): Fetch {
  return (input, init = {}) =>
    new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open(init.method ?? 'POST', String(input));
      for (const [key, value] of new Headers(init.headers)) xhr.setRequestHeader(key, value);
      xhr.responseType = 'arraybuffer';
      xhr.upload.onprogress = (event) =>
        listener({ loaded: event.loaded, total: event.lengthComputable ? event.total : null });
      xhr.onload = () => {
        const headers = new Headers();
        for (const line of xhr
          .getAllResponseHeaders()
          .trim()
          .split(/[\r\n]+/)) {
          const at = line.indexOf(':');
          if (at > 0) headers.append(line.slice(0, at).trim(), line.slice(at + 1).trim());
        }
        resolve(
          new Response(xhr.status === 204 ? null : (xhr.response as ArrayBuffer), {
            status: xhr.status,
            headers,
          }),
        );
      };
      xhr.onerror = () => reject(new TypeError('XMLHttpRequest failed'));
      xhr.ontimeout = () => reject(new TimeoutError('The upload timed out.'));
      const signal = init.signal;
      if (signal) {
        if (signal.aborted) {
          reject(signal.reason);
          return;
        }
        signal.addEventListener('abort', () => {
          xhr.abort();
          reject(signal.reason);
        });
      }
      xhr.send((init.body ?? null) as XMLHttpRequestBodyInit | null);
    });
}
