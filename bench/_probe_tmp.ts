import { io } from 'socket.io-client';
import { createApp, loadConfig } from '../main.ts';
import { tempDir } from './lib.ts';
const app = await createApp(loadConfig({ DATA_DIR: tempDir('vprobe-'), PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn' }), { jobs: false });
const nsp = app.io.of('/webchat') as unknown as { _fns: ((s: any, n: (e?: Error) => void) => void)[] };
const orig = nsp._fns[0]!;
nsp._fns[0] = (s, n) => { console.log(Date.now(), s.handshake.address, s.handshake.headers.origin, s.handshake.headers.host); orig(s, n); };
const url = await app.listen();
const results = await Promise.all(Array.from({ length: 25 }, () => new Promise<string>((res) => {
  const s = io(`${url}/webchat`, { transports: ['websocket'], forceNew: true, reconnection: false });
  s.once('connect', () => res('ok'));
  s.once('connect_error', (e) => res(e.message));
})));
console.log(results.join(','));
await app.close();
process.exit(0);
