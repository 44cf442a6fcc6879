// HTTP/2 streams that end early, through the same lifecycle as HTTP/1.1: a client that resets its
// stream mid-upload on a mirrored route (copies end as the client's doing, the session lives on) and
// an upstream that dies mid-response (the client sees a reset stream, never a clean short response),
// and an upstream that answers before reading the body (a clean answer, then the upload is stopped).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { MIRROR_V2, routeToV1, twoVersionService } from '../helpers/mesh-yaml.js';
import { startEchoServer, waitFor } from '../helpers/servers.js';
import { h2Request, pumpUpload } from '../helpers/h2-request.js';
import { startTestUmbra } from '../helpers/umbra.js';
import { service, startRawUpstream } from '../lifecycle/lifecycle-helpers.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const MIRROR = 'app.default|v2';

test('h2: a client that resets its stream mid-upload on a mirrored route; copies end as its doing, the session lives on', async () => {
  const v1 = await startEchoServer();
  const v2 = await startEchoServer();
  const u = await startTestUmbra({
    'mesh.yaml': twoVersionService(v1.port, v2.port),
    'vs.yaml': routeToV1(MIRROR_V2),
  });
  const session = http2.connect(`http://127.0.0.1:${u.listener.address.port}`);
  session.on('error', () => undefined);
  try {
    const req = session.request({
      ':method': 'POST',
      ':path': '/upload',
      ':authority': 'app:8000',
      'content-length': String(MiB),
    });
    req.on('error', () => undefined);
    req.write(Buffer.alloc(64 * KiB, 1));
    // Both the primary and the copy have started receiving the body, then the client gives up.
    await waitFor(() => v1.requests.length === 1 && v2.requests.length === 1, 10_000);
    req.close(http2.constants.NGHTTP2_CANCEL);

    const k = await waitFor(() => {
      const x = u.proxy.mirrors.counters.get(MIRROR);
      return x && x.inFlight === 0 ? x : undefined;
    }, 15_000);
    // Neither side got a body it could take for complete; the copy's end is not the mirror's failure.
    assert.equal(v1.requests[0].completed, false);
    assert.equal(v2.requests[0].completed, false);
    assert.equal(k.failed.timeout, 0);
    assert.equal(u.proxy.mirrors.breakerState(MIRROR), 'closed');
    await waitFor(() => u.proxy.budget.used === 0, 10_000);

    // Only that stream ended: the same session is answered.
    const next = await h2Request(session, { ':path': '/next', ':authority': 'app:8000' });
    assert.equal(next.status, 200);
    assert.equal(next.ended, true);
  } finally {
    session.close();
    await u.close();
    await Promise.all([v1.close(), v2.close()]);
  }
});

test('h2: an upstream that dies mid-response; the client sees a reset stream, never a clean short answer', async () => {
  const up = await startRawUpstream((_head, s) => {
    s.write('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 100000\r\n\r\n');
    s.write(Buffer.alloc(1000, 0x61), () => s.destroy());
    return 'stop-reading';
  });
  const u = await startTestUmbra({ 'svc.yaml': service('dies', up.port) });
  const session = http2.connect(`http://127.0.0.1:${u.listener.address.port}`);
  session.on('error', () => undefined);
  try {
    const r = await h2Request(session, { ':path': '/big', ':authority': 'dies:8000' });
    assert.equal(r.status, 200, 'the head went out before the upstream died');
    assert.equal(r.ended, false, `a cut answer must not end cleanly (${r.body.length} bytes)`);
    assert.notEqual(r.rstCode, http2.constants.NGHTTP2_NO_ERROR);
    assert.ok(r.body.length < 100_000);
  } finally {
    session.close();
    await u.close();
    await up.close();
  }
});

test('h2: an upstream that answers before reading the body; the client gets the answer and its upload is stopped', async () => {
  const up = await startRawUpstream((_head, s) => {
    s.write('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 5\r\n\r\nearly');
    return 'stop-reading';
  });
  const u = await startTestUmbra({ 'svc.yaml': service('early', up.port) });
  const session = http2.connect(`http://127.0.0.1:${u.listener.address.port}`);
  session.on('error', () => undefined);
  try {
    // The client would go on uploading 64 MiB; the stream's end must stop it well before that.
    let sentSoFar = () => 0;
    const a = await h2Request(
      session,
      { ':method': 'POST', ':path': '/upload', ':authority': 'early:8000' },
      (req) => (sentSoFar = pumpUpload(req, 64 * MiB)),
    );
    const sent = sentSoFar();
    assert.equal(a.status, 200);
    assert.equal(a.body.toString(), 'early');
    assert.equal(a.ended, true, 'the answer ended cleanly');
    assert.equal(a.rstCode, http2.constants.NGHTTP2_NO_ERROR);
    assert.ok(sent < 64 * MiB, `the upload was stopped (${sent} bytes sent)`);
    // The session lives on.
    const next = await h2Request(session, { ':path': '/next', ':authority': 'early:8000' });
    assert.equal(next.status, 200);
  } finally {
    session.close();
    await u.close();
    await up.close();
  }
});

test('h2: an early answer to a client that reads it late; the answer ends cleanly, the upload is held', async () => {
  const up = await startRawUpstream((_head, s) => {
    s.write('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 5\r\n\r\nearly');
    return 'stop-reading';
  });
  const u = await startTestUmbra({ 'svc.yaml': service('late', up.port) });
  const session = http2.connect(`http://127.0.0.1:${u.listener.address.port}`);
  session.on('error', () => undefined);
  const req = session.request({ ':method': 'POST', ':path': '/upload', ':authority': 'late:8000' });
  try {
    req.on('error', () => undefined);
    let status = 0;
    let body = '';
    let ended = false;
    req.on('response', (h) => (status = Number(h[':status'])));
    req.setEncoding('utf8').on('data', (c: string) => (body += c));
    req.on('end', () => (ended = true));
    // The client reads nothing for a second while it uploads as fast as it may.
    req.pause();
    const sent = pumpUpload(req, 64 * MiB);
    // Umbra is done with the request (its access-log line) while the client still has not read.
    await waitFor(() => u.accessLines.some((l) => l.includes('"POST /upload HTTP/2.0" 200')), 10_000);
    await new Promise((r) => setTimeout(r, 1_000));
    const held = sent();
    req.resume();
    await waitFor(() => ended, 10_000);
    assert.equal(status, 200);
    assert.equal(body, 'early');
    assert.ok(held < 4 * MiB, `the upload was held (${held} bytes sent)`);
    assert.equal(sent(), held, 'and stays held');
    // node's client, paused when the RST_STREAM(NO_ERROR) came, waits for its own upload before it
    // closes the stream (docs/http2-grpc.md): it ends it here, as such a client has to.
  } finally {
    req.destroy();
    session.close();
    await u.close();
    await up.close();
  }
});
