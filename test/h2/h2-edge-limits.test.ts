// HTTP/2 edge limits of the downstream side: the SETTINGS a client is given, and a client that
// resets streams in bulk before their answers (rapid reset) is sent GOAWAY(ENHANCE_YOUR_CALM).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { startHttpbin } from '../../src/workloads/httpbin.js';
import { startTestUmbra, workloadEntry } from '../helpers/umbra.js';

const service = `apiVersion: v1
kind: Service
metadata: {name: httpbin}
spec:
  selector: {app: httpbin}
  ports: [{name: http, port: 8000}]
`;

test('h2 SETTINGS of an edge proxy; a rapid-reset client is sent GOAWAY(ENHANCE_YOUR_CALM)', async () => {
  const v1 = await startHttpbin({ name: 'httpbin-v1' });
  const umbra = await startTestUmbra({
    'service.yaml': service,
    'workloads.yaml': workloadEntry('httpbin-v1', v1.port, { app: 'httpbin' }),
  });
  const session = http2.connect(`http://127.0.0.1:${umbra.listener.address.port}`);
  try {
    session.on('error', () => undefined);
    await new Promise<void>((r) => session.once('remoteSettings', () => r()));
    assert.equal(session.remoteSettings.maxConcurrentStreams, 100);
    assert.equal(session.remoteSettings.initialWindowSize, 65_535);
    assert.equal(session.remoteSettings.enablePush, false);

    const goaway = new Promise<number>((r) => session.once('goaway', (code: number) => r(code)));
    // Open streams and reset each at once, in batches under the stream limit.
    for (let batch = 0; batch < 5 && !session.destroyed; batch++) {
      const streams = Array.from({ length: 90 }, () => {
        const s = session.request({ ':path': '/delay/1', ':authority': 'httpbin:8000' });
        s.on('error', () => undefined);
        return s;
      });
      await new Promise((r) => setImmediate(r));
      for (const s of streams) s.close(http2.constants.NGHTTP2_CANCEL);
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(await goaway, http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
  } finally {
    session.destroy();
    await umbra.close();
    await v1.close();
  }
});
