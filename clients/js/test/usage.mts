// Compiled by tsc --noEmit in test/package.test.js (never run): the ES module view of the
// package, resolved by name through its package.json "exports".
import Juggernaut from "juggernautd-client";
import { Juggernaut as Named } from "juggernautd-client";

const same: typeof Juggernaut = Named;

const jug = new Juggernaut({
  host: "push.example.com",
  port: 8080,
  secure: false,
  meta: { user_id: 1 },
  transports: ["websocket", "xhr-polling"],
  persist: false,
  reconnectDelay: 250,
  "max reconnection attempts": 5,
  signMeta: true,
  authorize(request, done) {
    const what: string = request.type === "subscribe" ? request.channel : JSON.stringify(request.data);
    done(`${request.sessionID}:${what}`);
  },
});

jug.on("connect", function () {
  const sid: string | null = this.sessionID;
  console.log(sid, jug.isConnected(), jug.transport());
});
jug.on("disconnect", (reason) => console.log(reason.toUpperCase()));
jug.bind("reconnect", () => {});
jug.on("error", (reason: string, request?: any) => console.warn(reason, request));
jug.on("message", (message) => console.log(message.channel, message.seq, message.data));
jug.on("data", (channel, data, message) => console.log(channel, data, message.replayed));
jug.on("gap", (channel, info) => {
  if (info.lost) console.log(channel, info.from, info.to, info.last);
  else console.log(info.channel, info.since, info.request.channel);
});
jug.on("presence", (channel, event, members) => console.log(channel, event.presence, members.length));
jug.on("chat:gap", (info) => console.log(info.last));
jug.on("chat:presence", (event) => console.log(event.meta));
const dynamic = "room-" + String(Math.random());
jug.on(dynamic + ":data", (...args) => console.log(args));

interface Line { user: string; text: string }
jug.subscribe<Line>("chat", function (data, message) {
  console.log(data.user, data.text, message.seq);
}, {
  history: 50,
  presence: (event, members) => console.log(event.presence, members),
});
jug.subscribe("private-user-42", { presence: true }).subscribe(7);
const members: any[] | null = jug.members("chat");

jug.write({ type: "event", data: { typing: true } });
jug.write(new Juggernaut.Message({ type: "event", data: 1 }));
jug.write('{"type":"event"}');
const m = Juggernaut.Message.fromJSON('{"channel":"c","data":2}');
console.log(m.toJSON(), Juggernaut.protocol.encodePacket(3, "x"), jug.channels, jug.highest, jug.duplicates);

jug.unbind("chat:data").unsubscribe("chat");
jug.disconnect();
console.log(same, members);
