/** Reads a V8 `.cpuprofile` (from `node --cpu-prof`) and ranks where the time went, by self time. */
import { readFile } from 'node:fs/promises';
import { repositoryRoot } from '@passage/testing';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileEntry {
  name: string;
  selfMs: number;
  share: number;
}

export interface ProfileSummary {
  totalMs: number;
  /** Share of the profile the process was not idle. */
  busyShare: number;
  frames: ProfileEntry[];
  /** Self time by where the code lives: a package, node internals, ours, GC. */
  groups: ProfileEntry[];
}

/** Ranks the profile's samples taken `skipMs` or more after it started (to leave out the start-up). */
export async function summariseCpuProfile(file: string, skipMs = 0, top = 20): Promise<ProfileSummary> {
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
  const nodesById = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfMicroseconds = new Map<number, number>();
  let elapsed = 0;
  profile.samples.forEach((id, position) => {
    const delta = profile.timeDeltas[position] ?? 0;
    elapsed += delta;
    if (elapsed < skipMs * 1000) return;
    selfMicroseconds.set(id, (selfMicroseconds.get(id) ?? 0) + delta);
  });
  const frames = new Map<string, number>();
  const groups = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, microseconds] of selfMicroseconds) {
    const frame = nodesById.get(id)?.callFrame;
    if (frame === undefined) continue;
    total += microseconds;
    if (frame.functionName === '(idle)') idle += microseconds;
    const location = frame.url === '' ? '' : ` ${shortUrl(frame.url)}:${frame.lineNumber + 1}`;
    const name = `${frame.functionName || '(anonymous)'}${location}`;
    frames.set(name, (frames.get(name) ?? 0) + microseconds);
    const group = groupOf(frame);
    groups.set(group, (groups.get(group) ?? 0) + microseconds);
  }
  const busy = Math.max(total - idle, 1);
  const ranked = (entries: Map<string, number>) =>
    [...entries]
      .filter(([name]) => !name.startsWith('(idle)'))
      .sort((left, right) => right[1] - left[1])
      .slice(0, top)
      .map(([name, microseconds]) => ({ name, selfMs: Math.round(microseconds / 1000), share: microseconds / busy }));
  return { totalMs: Math.round(total / 1000), busyShare: (total - idle) / Math.max(total, 1), frames: ranked(frames), groups: ranked(groups) };
}

function shortUrl(url: string): string {
  const withoutScheme = url.replace(/^file:\/\//, '');
  const modules = withoutScheme.lastIndexOf('/node_modules/');
  if (modules >= 0) return withoutScheme.slice(modules + '/node_modules/'.length);
  return withoutScheme.startsWith(repositoryRoot) ? withoutScheme.slice(repositoryRoot.length + 1) : withoutScheme;
}

function groupOf(frame: ProfileNode['callFrame']): string {
  if (frame.url === '') return frame.functionName.startsWith('(') ? frame.functionName : '(native)';
  if (frame.url.startsWith('node:')) {
    const parts = frame.url.slice(5).split('/');
    return `node:${parts[0] === 'internal' ? parts.slice(0, parts[1] === 'deps' ? 3 : 2).join('/') : parts[0]}`;
  }
  const modules = frame.url.lastIndexOf('/node_modules/');
  if (modules >= 0) {
    const rest = frame.url.slice(modules + '/node_modules/'.length).split('/');
    return `npm ${rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  const local = frame.url.replace(/^file:\/\//, '');
  if (local.startsWith(repositoryRoot))
    return local
      .slice(repositoryRoot.length + 1)
      .split('/')
      .slice(0, 2)
      .join('/');
  return frame.url;
}
