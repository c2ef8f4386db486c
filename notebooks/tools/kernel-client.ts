/**
 * A small client for a running Jupyter server's REST and websocket API, enough to open a kernel
 * session and run code in it: what a browser tab does, without a browser. Used by the test of
 * `npm run lab` (test/notebooks-lab.test.ts); no dependency beyond Node (Node 20 has no WebSocket
 * client without a flag, so the few parts of RFC 6455 needed are here: the handshake, masked text
 * frames out, text / ping / close frames in).
 *
 *   const s = await openSession(base, token, 'scratch.ipynb', 'tslab');
 *   const r = await s.execute("console.log(1 + 1)");   // { stdout: '2\n', stderr: '', status: 'ok' }
 *   await s.close();
 *
 * Only for servers on this machine: `base` must be an http://127.0.0.1 or http://localhost URL.
 */
import { createHash, randomBytes, randomUUID } from 'crypto';
import * as http from 'http';
import type { Socket } from 'net';

/** An HTTP request to the server with token authentication; resolves with the status and the body. */
export function request(
  base: string,
  token: string | null,
  method: string,
  pathname: string,
  body?: unknown,
  timeoutMs = 30_000,
): Promise<{ status: number; body: string }> {
  const url = new URL(pathname, base);
  if (!['127.0.0.1', 'localhost'].includes(url.hostname)) return Promise.reject(new Error(`kernel-client: only loopback servers, not ${url.hostname}`));
  const data = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method,
        headers: {
          ...(token ? { Authorization: `token ${token}` } : {}),
          ...(data !== undefined ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) } : {}),
        },
        timeout: timeoutMs,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${pathname}: no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
    if (data !== undefined) req.write(data);
    req.end();
  });
}

/** A websocket connection carrying text messages. */
export interface TextSocket {
  send(text: string): void;
  onMessage(handler: (text: string) => void): void;
  close(): void;
  /** Resolves when the connection is gone. */
  closed: Promise<void>;
}

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

function frame(opcode: number, payload: Buffer): Buffer {
  const mask = randomBytes(4);
  const len = payload.length;
  const head = len < 126 ? Buffer.alloc(2) : len < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
  head[0] = 0x80 | opcode;
  if (len < 126) head[1] = 0x80 | len;
  else if (len < 65536) {
    head[1] = 0x80 | 126;
    head.writeUInt16BE(len, 2);
  } else {
    head[1] = 0x80 | 127;
    head.writeBigUInt64BE(BigInt(len), 2);
  }
  const body = Buffer.alloc(len);
  for (let i = 0; i < len; i++) body[i] = payload[i] ^ mask[i & 3];
  return Buffer.concat([head, mask, body]);
}

/** Opens a websocket (ws:// on loopback only) with token authentication. */
export function connectWebSocket(url: string, token: string, timeoutMs = 30_000): Promise<TextSocket> {
  const u = new URL(url);
  if (!['127.0.0.1', 'localhost'].includes(u.hostname)) return Promise.reject(new Error(`kernel-client: only loopback servers, not ${u.hostname}`));
  const key = randomBytes(16).toString('base64');
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: u.hostname,
      port: u.port,
      path: u.pathname + u.search,
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': key,
        Authorization: `token ${token}`,
      },
      timeout: timeoutMs,
    });
    req.on('timeout', () => req.destroy(new Error(`websocket ${u.pathname}: no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
    req.on('response', (res) => reject(new Error(`websocket ${u.pathname}: HTTP ${res.statusCode} instead of an upgrade`)));
    req.on('upgrade', (res, socket: Socket, head: Buffer) => {
      const accept = createHash('sha1').update(key + WS_GUID).digest('base64');
      if (res.headers['sec-websocket-accept'] !== accept) {
        socket.destroy();
        reject(new Error('websocket: bad Sec-WebSocket-Accept'));
        return;
      }
      socket.setTimeout(0);
      const handlers: ((t: string) => void)[] = [];
      let buf = head;
      let parts: Buffer[] = [];
      let resolveClosed: () => void = () => undefined;
      const closed = new Promise<void>((r) => (resolveClosed = r));
      socket.on('close', () => resolveClosed());
      socket.on('error', () => resolveClosed());
      socket.on('data', (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        for (;;) {
          if (buf.length < 2) return;
          const fin = (buf[0] & 0x80) !== 0;
          const opcode = buf[0] & 0x0f;
          const masked = (buf[1] & 0x80) !== 0;
          let len = buf[1] & 0x7f;
          let off = 2;
          if (len === 126) {
            if (buf.length < 4) return;
            len = buf.readUInt16BE(2);
            off = 4;
          } else if (len === 127) {
            if (buf.length < 10) return;
            len = Number(buf.readBigUInt64BE(2));
            off = 10;
          }
          const maskKey = masked ? buf.subarray(off, off + 4) : null;
          if (masked) off += 4;
          if (buf.length < off + len) return;
          const payload = Buffer.from(buf.subarray(off, off + len));
          if (maskKey) for (let i = 0; i < payload.length; i++) payload[i] ^= maskKey[i & 3];
          buf = buf.subarray(off + len);
          if (opcode === 0x8) {
            socket.end(frame(0x8, Buffer.alloc(0)));
            return;
          }
          if (opcode === 0x9) {
            socket.write(frame(0xa, payload));
            continue;
          }
          if (opcode === 0x1 || opcode === 0x2 || opcode === 0x0) {
            parts.push(payload);
            if (fin) {
              const text = Buffer.concat(parts).toString('utf8');
              parts = [];
              for (const h of handlers) h(text);
            }
          }
        }
      });
      resolve({
        send: (text) => void socket.write(frame(0x1, Buffer.from(text, 'utf8'))),
        onMessage: (h) => void handlers.push(h),
        close: () => {
          if (!socket.destroyed) socket.end(frame(0x8, Buffer.alloc(0)));
        },
        closed,
      });
    });
    req.end();
  });
}

/** What running one piece of code produced. */
export interface ExecuteResult {
  /** 'ok' or 'error' (the execute_reply's status). */
  status: string;
  stdout: string;
  stderr: string;
  /** text/plain of execute_result and display_data outputs. */
  displays: string[];
  /** ename: evalue of an error output. */
  error?: string;
}

export interface KernelSession {
  sessionId: string;
  kernelId: string;
  execute(code: string, timeoutMs?: number): Promise<ExecuteResult>;
  /** Closes the websocket and deletes the session (which shuts its kernel down). */
  close(): Promise<void>;
}

interface Message {
  header: { msg_id: string; msg_type: string };
  parent_header: { msg_id?: string };
  content: Record<string, unknown>;
  channel?: string;
}

/** Opens a session for `path` (relative to the server's notebook folder) on kernel `kernelName`. */
export async function openSession(base: string, token: string, path: string, kernelName: string): Promise<KernelSession> {
  const r = await request(base, token, 'POST', '/api/sessions', { path, name: path, type: 'notebook', kernel: { name: kernelName } }, 120_000);
  if (r.status !== 201 && r.status !== 200) throw new Error(`POST /api/sessions: HTTP ${r.status}: ${r.body.slice(0, 300)}`);
  const session = JSON.parse(r.body) as { id: string; kernel: { id: string } };
  const clientSession = randomUUID();
  const wsBase = base.replace(/^http/, 'ws');
  const ws = await connectWebSocket(new URL(`/api/kernels/${session.kernel.id}/channels?session_id=${clientSession}`, wsBase).toString(), token);
  const listeners = new Set<(m: Message) => void>();
  ws.onMessage((text) => {
    let m: Message;
    try {
      m = JSON.parse(text) as Message;
    } catch {
      return;
    }
    for (const l of listeners) l(m);
  });
  const execute = (code: string, timeoutMs = 180_000): Promise<ExecuteResult> =>
    new Promise((resolve, reject) => {
      const msgId = randomUUID();
      const res: ExecuteResult = { status: '', stdout: '', stderr: '', displays: [] };
      let idle = false;
      const done = (): void => {
        if (idle && res.status) {
          clearTimeout(timer);
          listeners.delete(listen);
          resolve(res);
        }
      };
      const listen = (m: Message): void => {
        if (m.parent_header?.msg_id !== msgId) return;
        const c = m.content;
        switch (m.header.msg_type) {
          case 'stream':
            if (c.name === 'stderr') res.stderr += String(c.text);
            else res.stdout += String(c.text);
            break;
          case 'execute_result':
          case 'display_data':
            res.displays.push(String((c.data as Record<string, unknown> | undefined)?.['text/plain'] ?? ''));
            break;
          case 'error':
            res.error = `${String(c.ename)}: ${String(c.evalue)}`;
            break;
          case 'execute_reply':
            res.status = String(c.status);
            done();
            break;
          case 'status':
            if (c.execution_state === 'idle') {
              idle = true;
              done();
            }
            break;
        }
      };
      const timer = setTimeout(() => {
        listeners.delete(listen);
        reject(new Error(`no reply to execute_request in ${timeoutMs} ms (got so far: ${JSON.stringify(res)})`));
      }, timeoutMs);
      listeners.add(listen);
      ws.send(
        JSON.stringify({
          header: { msg_id: msgId, username: 'dlg-test', session: clientSession, msg_type: 'execute_request', version: '5.3', date: new Date().toISOString() },
          parent_header: {},
          metadata: {},
          content: { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true },
          buffers: [],
          channel: 'shell',
        }),
      );
    });
  return {
    sessionId: session.id,
    kernelId: session.kernel.id,
    execute,
    close: async () => {
      ws.close();
      await Promise.race([ws.closed, new Promise((r) => setTimeout(r, 5000).unref())]);
      await request(base, token, 'DELETE', `/api/sessions/${session.id}`);
    },
  };
}
