// A parsing thread whose parse never ends: it says on a BroadcastChannel that it runs, then
// answers nothing and stays alive, so that only the parser's time limit or abort can stop it.
import { BroadcastChannel } from 'node:worker_threads';

const channel = new BroadcastChannel('never-answering-parse-thread');
channel.postMessage('running');
channel.close();
setInterval(() => {}, 1 << 30);
