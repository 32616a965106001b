/**
 * The control channel between the CLI and a running daemon: newline-delimited
 * JSON over the Unix domain socket in the network's home. One request per
 * connection: `{"op": ..., ...args}` -> zero or more `{"item": ...}` lines, then
 * `{"done": result}` or `{"error": {code, message}}`.
 */
import { existsSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { isPloppyError, PloppyError, type ErrorCode } from '../core/errors.js';

export type ControlRequest = { op: string } & Record<string, unknown>;

/** A handler may stream items (e.g. log lines) before returning its result. */
export type ControlHandler = (request: ControlRequest, emitItem: (item: unknown) => void) => Promise<unknown>;

const requestBytesMax = 1024 * 1024;

export async function serveControl(socketPath: string, handler: ControlHandler): Promise<Server> {
  if (existsSync(socketPath)) unlinkSync(socketPath);
  const server = createServer((socket) => handleConnection(socket, handler));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });
  return server;
}

function handleConnection(socket: Socket, handler: ControlHandler): void {
  let buffer = '';
  socket.setEncoding('utf8');
  socket.on('error', () => socket.destroy());
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    if (buffer.length > requestBytesMax) return void socket.destroy();
    const nl = buffer.indexOf('\n');
    if (nl < 0) return;
    socket.removeAllListeners('data');
    void answer(socket, buffer.slice(0, nl), handler);
  });
}

async function answer(socket: Socket, line: string, handler: ControlHandler): Promise<void> {
  const write = (value: unknown): boolean => socket.write(`${JSON.stringify(value)}\n`);
  try {
    const request = JSON.parse(line) as ControlRequest;
    if (typeof request.op !== 'string') throw new PloppyError('USAGE', 'control request without op');
    const result = await handler(request, (item) => {
      write({ item });
    });
    write({ done: result ?? null });
  } catch (e) {
    const code = isPloppyError(e) ? e.code : 'INTERNAL';
    write({ error: { code, message: e instanceof Error ? e.message : String(e) } });
  }
  socket.end();
}

/**
 * Send one request to the daemon. Items stream to `onItem`; resolves with the
 * result. A missing socket or a refused connection is DAEMON_NOT_RUNNING.
 */
export function callControl(socketPath: string, request: ControlRequest, onItem?: (item: unknown) => void): Promise<unknown> {
  return new Promise((resolve, reject) => {
    if (!existsSync(socketPath)) {
      reject(new PloppyError('DAEMON_NOT_RUNNING', `no daemon is running for this network (no ${socketPath})`));
      return;
    }
    const socket = createConnection(socketPath);
    let buffer = '';
    let settled = false;
    const settle = (f: () => void): void => {
      if (!settled) {
        settled = true;
        f();
      }
    };
    socket.setEncoding('utf8');
    socket.on('error', (e: NodeJS.ErrnoException) => {
      const notRunning = e.code === 'ECONNREFUSED' || e.code === 'ENOENT';
      settle(() => reject(notRunning ? new PloppyError('DAEMON_NOT_RUNNING', `no daemon answers on ${socketPath}`) : e));
    });
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const msg = JSON.parse(buffer.slice(0, nl)) as { item?: unknown; done?: unknown; error?: { code: ErrorCode; message: string } };
        buffer = buffer.slice(nl + 1);
        if ('item' in msg) onItem?.(msg.item);
        else if ('done' in msg) settle(() => resolve(msg.done));
        else if (msg.error !== undefined) {
          const err = msg.error;
          settle(() => reject(new PloppyError(err.code, err.message.replace(/^[A-Z_]+: /, ''))));
        }
      }
    });
    socket.on('close', () => settle(() => reject(new PloppyError('DAEMON_NOT_RUNNING', 'the daemon closed the control connection'))));
    socket.write(`${JSON.stringify(request)}\n`);
  });
}
