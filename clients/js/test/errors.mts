// Compiled by tsc --noEmit in test/package.test.js: each line after @ts-expect-error is a
// wrong use that the declarations must reject (tsc fails on a directive with no error).
import Juggernaut from "juggernautd-client";

// @ts-expect-error port is a number or a string
new Juggernaut({ port: true });
// @ts-expect-error no such transport in this client
new Juggernaut({ transports: ["flashsocket"] });
// @ts-expect-error authorize's done takes the signature
new Juggernaut({ authorize: (request, done) => done(42) });
// @ts-expect-error unknown option (excess property)
new Juggernaut({ hots: "example.com" });

const jug = new Juggernaut();
// @ts-expect-error gap's handler gets (channel, info), not a number first
jug.on("gap", (channel: number) => console.log(channel));
// @ts-expect-error a channel gap handler gets info, which has no "foo"
jug.on("chat:gap", (info) => console.log(info.foo));
// @ts-expect-error disconnect's reason is a string
jug.on("disconnect", (reason: number) => console.log(reason));
// @ts-expect-error write takes an object or a string
jug.write(42);
// @ts-expect-error subscribe needs a channel
jug.subscribe();
// @ts-expect-error history is a number
jug.subscribe("chat", () => {}, { history: "50" });
// @ts-expect-error the data callback's message is a Message, not a string
jug.subscribe("chat", (data: unknown, message: string) => console.log(data, message));
// @ts-expect-error isConnected returns a boolean
const s: string = jug.isConnected();
// @ts-expect-error sessionID is read-only
jug.sessionID = "x";
// @ts-expect-error there is no connect() method
jug.connect();
console.log(s);
// @ts-expect-error Message is a constructor: it needs new
Juggernaut.Message({ type: "event" });
// @ts-expect-error a data handler's message is a Message, whose seq is a number
jug.on("chat:data", (data, message) => { const seq: string | undefined = message.seq; console.log(data, seq); });
