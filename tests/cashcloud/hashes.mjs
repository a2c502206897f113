// Cashcloud's hashing, as in the 2014 PHP SDK (see /work/shared/PROVIDERS.md, Cashcloud).
// PHP's sha1()/md5() with raw_output=true return binary strings, and PHP concatenates them
// byte for byte; so here every intermediate "raw" hash is a Buffer that is appended *as
// bytes* after the UTF-8 bytes of the text before it. Both published vectors pass only
// under this raw reading (the hex-concatenation reading gives other values), see
// server.test.mjs. Node 20 built-ins only.
import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (algo, data, enc) => createHash(algo).update(data).digest(enc);
const sha1Raw = (data) => digest('sha1', data);

/** md5_raw(sha1_raw(password)) → 16-byte Buffer. */
export function passwordHash(password) {
  return digest('md5', sha1Raw(Buffer.from(String(password), 'utf8')));
}

/** md5_hex(sha1_raw(username + salt + passwordHash(password))), raw bytes appended. */
export function tokenHash(username, salt, password) {
  const data = Buffer.concat([Buffer.from(`${username}${salt}`, 'utf8'), passwordHash(password)]);
  return digest('md5', sha1Raw(data), 'hex');
}

/** "Token " + base64("username|device_id|hash"). */
export function authorizationHeader(username, deviceId, hash) {
  return `Token ${Buffer.from(`${username}|${deviceId}|${hash}`, 'utf8').toString('base64')}`;
}

/** Callback `control`: base64(md5_raw(sha1_raw("method|status|time|" + passwordHash(apiPassword)))). */
export function control(method, status, time, apiPassword) {
  const data = Buffer.concat([Buffer.from(`${method}|${status}|${time}|`, 'utf8'), passwordHash(apiPassword)]);
  return digest('md5', sha1Raw(data)).toString('base64');
}

/** Constant-time string comparison (hashes the inputs first so lengths never leak). */
export function safeEqual(a, b) {
  return timingSafeEqual(digest('sha256', String(a)), digest('sha256', String(b)));
}
