// FakeSocket is a WebSocket for the unit tests (vi.stubGlobal("WebSocket",
// FakeSocket)): each one made is kept in FakeSocket.made, and the test says
// how it opens and ends. Test code only: nothing the app imports.

export class FakeSocket {
  static CONNECTING = 0;
  static OPEN = 1;
  static CLOSING = 2;
  static CLOSED = 3;
  static made: FakeSocket[] = [];
  /** refuse makes the constructor throw, as a browser does for a bad URL. */
  static refuse = false;
  /** closeEvents: close() fires close (in a microtask), as a browser does;
   * false stands for a socket whose close event never comes. */
  static closeEvents = true;

  static reset() {
    FakeSocket.made = [];
    FakeSocket.refuse = false;
    FakeSocket.closeEvents = true;
  }

  readyState = FakeSocket.CONNECTING;
  sent: string[] = [];
  onopen: (() => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: (() => void) | null = null;
  onmessage: ((ev: { data: string }) => void) | null = null;

  constructor(readonly url: string) {
    if (FakeSocket.refuse) throw new SyntaxError("bad URL");
    FakeSocket.made.push(this);
  }

  send(d: string) {
    this.sent.push(d);
  }

  close(code = 1005, reason = "") {
    if (this.readyState === FakeSocket.CLOSED) return;
    this.readyState = FakeSocket.CLOSED;
    if (FakeSocket.closeEvents) queueMicrotask(() => this.onclose?.({ code, reason }));
  }

  open() {
    this.readyState = FakeSocket.OPEN;
    this.onopen?.();
  }

  /** block is a socket the browser refuses (Content-Security-Policy):
   * error, CLOSED, and no close event. */
  block() {
    this.readyState = FakeSocket.CLOSED;
    this.onerror?.();
  }

  /** drop is a connection lost: error, then close. */
  drop(code = 1006) {
    this.readyState = FakeSocket.CLOSED;
    this.onerror?.();
    this.onclose?.({ code, reason: "" });
  }
}
