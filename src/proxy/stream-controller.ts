// undici's DispatchController (its v7 handler API) over a node stream that comes later: the HTTP/2
// dispatcher's stream, the head-first client's response. A pause asked for before the stream is
// there applies when it comes; an abort is handed once to `onAbort`.

import type { Dispatcher } from 'undici';

export interface Pausable {
  pause(): unknown;
  resume(): unknown;
}

export class StreamController<S extends Pausable> implements Dispatcher.DispatchController {
  private target?: S;
  private isPaused = false;
  private why: Error | null = null;
  onAbort?: (err: Error) => void;

  get stream(): S | undefined {
    return this.target;
  }
  get aborted(): boolean {
    return this.why !== null;
  }
  get paused(): boolean {
    return this.isPaused;
  }
  get reason(): Error | null {
    return this.why;
  }

  /** The stream has come: it is paused at once if the handler asked for that. */
  attach(stream: S): void {
    this.target = stream;
    if (this.isPaused) stream.pause();
  }

  abort(reason: Error): void {
    if (this.why) return;
    this.why = reason;
    this.onAbort?.(reason);
  }
  pause(): void {
    this.isPaused = true;
    this.target?.pause();
  }
  resume(): void {
    this.isPaused = false;
    this.target?.resume();
  }
}
