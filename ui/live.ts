/**
 * Live updates: one event stream for the page (the session cookie authenticates it), its events
 * coalesced into at most one refresh every 500 ms, closed while the tab is hidden, and off when
 * the person switches it off.
 */
import { signal } from '@preact/signals';
import { apiUrl } from './api.js';

const EVENTS = ['job:queued', 'job:started', 'job:retrying', 'job:completed', 'job:failed', 'job:cancelled', 'provider:state'];
const COALESCE_MS = 500;

/** Whether live updates are on (remembered in this browser). */
export const liveOn = signal(localStorage.getItem('swy-live') !== 'off');
/** Bumped when something changed: pages that show live data re-read when it moves. */
export const tick = signal(0);
/** Job events since the last refresh, newest last (for pages that show them as they come). */
export const lastEvents = signal<{ event: string; job?: { id: string; status: string } }[]>([]);

let source: EventSource | undefined;
let timer: ReturnType<typeof setTimeout> | undefined;
let pending: { event: string; job?: { id: string; status: string } }[] = [];

function flush(): void {
  timer = undefined;
  lastEvents.value = pending;
  pending = [];
  tick.value++;
}

function open(): void {
  if (source || !liveOn.value || document.hidden) return;
  source = new EventSource(apiUrl('v1/events'), { withCredentials: true });
  for (const name of EVENTS) {
    source.addEventListener(name, (e) => {
      let job: { id: string; status: string } | undefined;
      try {
        // A job event's data is the job (without its input and output).
        const d = JSON.parse((e as MessageEvent).data);
        if (d && typeof d.id === 'string') job = { id: d.id, status: d.status };
      } catch {
        job = undefined;
      }
      pending.push({ event: name, job });
      if (timer === undefined) timer = setTimeout(flush, COALESCE_MS);
    });
  }
}

function close(): void {
  source?.close();
  source = undefined;
}

export function startLive(): void {
  open();
  document.addEventListener('visibilitychange', () => {
    if (document.hidden) close();
    else {
      open();
      tick.value++; // catch up on what happened while hidden
    }
  });
}

export function stopLive(): void {
  close();
}

export function setLive(on: boolean): void {
  liveOn.value = on;
  localStorage.setItem('swy-live', on ? 'on' : 'off');
  if (on) open();
  else close();
}
