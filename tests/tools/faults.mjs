// Injected provider faults, shared by the Worldpay and Cashcloud stand-ins (the Stripe
// recording proxy has the same kinds under its own names, see tests/stripe-proxy).
//
// A test adds a fault naming the calls it hits (`method`, `path_prefix`, `path_suffix`)
// and how many (`count`); the stand-in takes it for the next matching call:
//   before the provider acts (nothing happens there; a retry with the same key is safe):
//     429 (with Retry-After: 1), 500, 503, drop_before (the connection is destroyed)
//   after the provider acted (its state and idempotency record are written):
//     delay        the answer is held `hold_ms` (past the Worker's timeout), then sent
//     drop_after   the connection is destroyed instead of the answer
//     500_after    500, as if the answer were lost inside the provider
//     malformed_after  200 with a body that is not JSON
//     truncated_after  the answer's headers and half its body, then the connection ends
// Node 20 built-ins only.

export const FAULT_KINDS = ['429', '500', '503', 'drop_before', 'delay', 'drop_after', '500_after', 'malformed_after', 'truncated_after'];
const BEFORE = new Set(['429', '500', '503', 'drop_before']);

/** A table of pending faults: add() from the control API, take() per API call. */
export function faultTable() {
  let faults = [];
  let seq = 0;
  return {
    /** Validates a control API body; returns the fault, or throws a message. */
    add(f) {
      const count = f?.count ?? 1;
      const holdMs = f?.hold_ms ?? 0;
      const str = (v) => v == null || typeof v === 'string';
      if (!f || typeof f !== 'object' || !FAULT_KINDS.includes(f.kind) || !Number.isInteger(count) || count < 1
        || !str(f.method) || !str(f.path_prefix) || !str(f.path_suffix) || !Number.isInteger(holdMs) || holdMs < 0 || holdMs > 60000) {
        throw new Error(`expected {method?, path_prefix?, path_suffix?, kind: ${FAULT_KINDS.join('|')}, count?: integer ≥ 1, hold_ms?: 0–60000}`);
      }
      const fault = { id: ++seq, method: f.method ? f.method.toUpperCase() : null, path_prefix: f.path_prefix ?? '/',
        path_suffix: f.path_suffix ?? null, kind: f.kind, count, remaining: count, hold_ms: holdMs, hits: [] };
      faults.push(fault);
      return fault;
    },
    /** The fault for this call, if one matches (its count goes down). */
    take(method, path) {
      const f = faults.find((x) => x.remaining > 0 && (!x.method || x.method === method)
        && path.startsWith(x.path_prefix) && (!x.path_suffix || path.endsWith(x.path_suffix)));
      if (!f) return null;
      f.remaining -= 1;
      f.hits.push(`${method} ${path}`);
      return f;
    },
    list: () => faults,
    clear() { faults = []; },
  };
}

/** Whether the provider must not act on this call. */
export const acts = (fault) => !fault || !BEFORE.has(fault.kind);

/** Answers a `before` fault in place of the provider. */
export function answerBefore(fault, res, errorBody) {
  if (fault.kind === 'drop_before') return res.socket.destroy();
  const headers = { 'content-type': 'application/json', ...(fault.kind === '429' ? { 'retry-after': '1' } : {}) };
  res.writeHead(Number(fault.kind), headers);
  res.end(JSON.stringify(errorBody(Number(fault.kind))));
}

/**
 * Answers after the provider acted, as the fault says; `send()` is the stand-in's own
 * answer. Returns a promise that settles when the caller has what it gets.
 */
export async function answerAfter(fault, res, send, status, body, headers = {}) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  switch (fault?.kind) {
    case 'delay':
      await new Promise((r) => setTimeout(r, fault.hold_ms));
      if (res.socket?.destroyed) return undefined;
      return send(res, status, body);
    case 'drop_after': return res.socket.destroy();
    case '500_after':
      res.writeHead(500, { 'content-type': 'application/json' });
      return res.end('{"error":"internal error"}');
    case 'malformed_after':
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end('<html><body>502 Bad Gateway</body></html>');
    case 'truncated_after': {
      const bytes = Buffer.from(text);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': bytes.length, ...headers });
      res.write(bytes.subarray(0, Math.floor(bytes.length / 2)));
      return new Promise((r) => setTimeout(() => { res.socket?.destroy(); r(); }, 20));
    }
    default: return send(res, status, body);
  }
}
