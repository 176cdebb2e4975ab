// Type declarations for juggernautd-client (public/application.js of juggernautd).
// CommonJS / classic view: `const Juggernaut = require("juggernautd-client")`.
// The ES module view (`import Juggernaut from "juggernautd-client"`) is index.d.mts.

declare namespace Juggernaut {
  /** The transports this client implements, in the order it tries them by default. */
  type TransportName = "websocket" | "xhr-polling" | "jsonp-polling";

  /** What `authorize` is asked to sign (private channels, signed meta). */
  type AuthorizeRequest =
    | { type: "subscribe"; channel: string; sessionID: string }
    | { type: "meta"; data: any; sessionID: string };

  interface Options {
    /** Push server host; default: the page's hostname. */
    host?: string;
    /** Push server port; default 8080. */
    port?: number | string;
    /** https/wss; default: true when the page is https. */
    secure?: boolean;
    /** Sent as {"type": "meta"} on every (re)connect, before the subscribes. */
    meta?: any;
    /** false: keep channel positions in memory only, not in sessionStorage. */
    persist?: boolean;
    /** Transports to try, in order; default ["websocket", "xhr-polling", "jsonp-polling"]. */
    transports?: TransportName[];
    /** Path prefix of the socket.io endpoints; default "socket.io". */
    resource?: string;
    /** Query string appended to every socket.io request (without "?"). */
    query?: string;
    /** ms for the handshake and for a transport to connect; default 10000. */
    connectTimeout?: number;
    "connect timeout"?: number;
    /** Reconnect with backoff after the connection is lost; default true. */
    reconnect?: boolean;
    /** First reconnect delay in ms, doubled each attempt; default 500. */
    reconnectDelay?: number;
    "reconnection delay"?: number;
    /** Upper bound of the reconnect delay in ms; default 10000. */
    reconnectLimit?: number;
    "reconnection limit"?: number;
    /** Attempts before giving up; default Infinity. */
    maxReconnectAttempts?: number;
    "max reconnection attempts"?: number;
    /**
     * Signs subscribes to private channels (and the meta with signMeta): ask your app
     * server for hex HMAC-SHA256(auth-secret, sessionID + ":" + channel) and call done.
     */
    authorize?: (request: AuthorizeRequest, done: (signature: string) => void) => void;
    /** Ask `authorize` to sign the meta too (server option require-meta-auth). */
    signMeta?: boolean;
    /** Channels that need a signature; default "private-". */
    privatePrefix?: string;
  }

  /** A presence event: {presence, channel, members | meta, at | seq}. */
  interface PresenceEvent extends Message {
    presence: "snapshot" | "join" | "leave";
    channel: string;
    /** snapshot: the members (one meta each; null for a session without meta) */
    members?: any[];
    /** join, leave: the member's meta */
    meta?: any;
    /** snapshot: the seq it was taken at */
    at?: number;
    /** join, leave: its seq */
    seq?: number;
  }

  /** The server no longer has every message after the position asked for. */
  interface TrimmedGap {
    channel: string;
    request: SubscribeRequest;
    /** the position the subscribe asked for */
    since: number;
    /** the last seq this tab had delivered on the channel */
    last: number | null;
    lost?: undefined;
  }

  /** The session moved between servers after they had let go of messages from..to. */
  interface LostGap {
    channel: string | undefined;
    request: SubscribeRequest | undefined;
    from: number;
    to: number;
    lost: true;
    last: number | null;
  }

  type GapInfo = TrimmedGap | LostGap;

  interface SubscribeRequest {
    type: "subscribe";
    channel: string;
    since?: number;
    history?: number;
    presence?: boolean;
    auth?: string;
  }

  interface SubscribeOptions {
    /** The last N messages first, and the same window again when the page is loaded again. */
    history?: number;
    /** A snapshot of the members, then joins and leaves; a function is bound to "<channel>:presence". */
    presence?: boolean | PresenceHandler;
  }

  type DataHandler<T = any> = (this: Juggernaut, data: T, message: Message<T>) => void;
  type PresenceHandler = (this: Juggernaut, event: PresenceEvent, members: any[]) => void;

  /** The arguments of each event the client emits. */
  interface Events {
    connect: [];
    /** before "connect" when a lost connection came back (a new session) */
    reconnect: [];
    /** reason: "client", "booted", "session lost", "transport closed" */
    disconnect: [reason: string];
    message: [message: Message];
    data: [channel: string | undefined, data: any, message: Message];
    /** a failed handshake, or a refusal by the server (then with the request refused) */
    error: [reason: string, request?: any];
    presence: [channel: string, event: PresenceEvent, members: any[]];
    gap: [channel: string | undefined, info: GapInfo];
  }

  /** Arguments of event E: the named events, then "<channel>:data|presence|gap". */
  type EventArgs<E extends string> =
    E extends keyof Events ? Events[E] :
    E extends `${string}:data` ? [data: any, message: Message] :
    E extends `${string}:presence` ? [event: PresenceEvent, members: any[]] :
    E extends `${string}:gap` ? [info: GapInfo] :
    any[];

  type Handler<E extends string> = (this: Juggernaut, ...args: EventArgs<E>) => void;

  /** A message as received ({channel, data, seq, ...}) or to write. */
  interface Message<T = any> {
    channel?: string;
    data?: T;
    /** cluster mode: its global sequence number */
    seq?: number;
    /** shown already by an earlier page load in this tab (history: N) */
    replayed?: boolean;
    [key: string]: any;
    toJSON(): { [key: string]: any };
  }

  interface MessageConstructor {
    new <T = any>(hash?: { [key: string]: any }): Message<T>;
    fromJSON(json: string): Message;
    prototype: Message;
  }

  /** The socket.io protocol 1 codec the client uses (exposed for tests). */
  interface Protocol {
    decodePacket(text: string): { type: string; id: string; ack: boolean; endpoint: string; data: string } | null;
    encodePacket(type: number | string, data?: string): string;
    decodePayload(text: string): string[];
    encodePayload(packets: string[]): string;
  }
}

declare class Juggernaut {
  constructor(options?: Juggernaut.Options);

  static Message: Juggernaut.MessageConstructor;
  static protocol: Juggernaut.Protocol;
  /** Juggernaut.prototype, for plugins (as in the original client). */
  static fn: Juggernaut;

  /** The options, with host, port and secure filled in. */
  readonly options: Juggernaut.Options;
  meta: any;
  /** The socket.io session id of the current connection (a new one after a reconnect). */
  readonly sessionID: string | null;
  /** Subscribed channels, in subscription order. */
  readonly channels: string[];
  /** Highest seq seen on any channel (cluster mode). */
  readonly highest: number;
  /** Messages dropped because they had been delivered already. */
  readonly duplicates: number;

  on<E extends string>(event: E, handler: Juggernaut.Handler<E>): this;
  bind<E extends string>(event: E, handler: Juggernaut.Handler<E>): this;
  /** unbind(event) removes every handler of the event; unbind(event, handler) only that one. */
  unbind(event: string, handler?: (...args: any[]) => void): this;
  trigger<E extends string>(event: E, ...args: Juggernaut.EventArgs<E>): this;

  isConnected(): boolean;
  /** The transport in use, or null when not connected. */
  transport(): Juggernaut.TransportName | null;

  /**
   * Sends a message (an object, a Juggernaut.Message or JSON text), e.g.
   * {type: "event", data: {...}}, published by the server as juggernaut:custom.
   * Written while disconnected, it is sent after the next connect.
   */
  write(message: object | string): void;

  subscribe<T = any>(channel: string | number, callback?: Juggernaut.DataHandler<T> | null,
    options?: Juggernaut.SubscribeOptions): this;
  subscribe(channel: string | number, options: Juggernaut.SubscribeOptions): this;
  /** Unsubscribes, unbinds the channel's handlers and forgets its position. */
  unsubscribe(channel: string | number): this;
  /** The channel's members (presence), or null before the snapshot. */
  members(channel: string | number): any[] | null;
  /** Closes the connection for good (no reconnect). */
  disconnect(): void;
}

export = Juggernaut;
