/**
 * A `fetch` over node:https with our own TLS material (CA, client certificate, server name).
 * Node 20's global fetch (undici) takes no per-request CA without the `undici` package's
 * Agent, which this project does not depend on; node:https does, and the client only needs
 * the subset of fetch it uses: method, headers, a string body, a signal, a streamed Response.
 */
import { request } from 'node:https';
import { Readable } from 'node:stream';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import type { ConsulTls } from './access.ts';

export function httpsFetch(tls: ConsulTls): typeof fetch {
  const ca = tls.ca === undefined ? undefined : [...tls.ca];
  return (async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const body = init.body === undefined || init.body === null ? undefined : String(init.body);
    return new Promise<Response>((resolve, reject) => {
      const req = request(
        url,
        {
          method: init.method ?? 'GET',
          headers: { ...(init.headers as Record<string, string> | undefined), ...(body === undefined ? {} : { 'content-length': Buffer.byteLength(body) }) },
          ca,
          cert: tls.cert,
          key: tls.key,
          servername: tls.serverName,
          // Verify the certificate against the server name when one is given, as Go's
          // tls.Config.ServerName does; node checks against the URL host otherwise.
          ...(tls.serverName === undefined ? {} : { checkServerIdentity: checkAgainst(tls.serverName) }),
          rejectUnauthorized: tls.verify ?? true,
          signal: init.signal ?? undefined,
          agent: false,
        },
        (res) => {
          const headers = new Headers();
          for (const [name, value] of Object.entries(res.headers)) {
            if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
          }
          const status = res.statusCode ?? 500;
          // Response refuses a body for null-body statuses.
          const stream = [204, 304].includes(status) ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>);
          resolve(new Response(stream, { status, statusText: res.statusMessage ?? '', headers }));
        },
      );
      req.once('error', reject);
      req.end(body);
    });
  }) as typeof fetch;
}

function checkAgainst(serverName: string): (host: string, cert: PeerCertificate) => Error | undefined {
  return (_host, cert) => checkServerIdentity(serverName, cert);
}
