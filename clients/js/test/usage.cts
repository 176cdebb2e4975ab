// Compiled by tsc --noEmit in test/package.test.js (never run): the CommonJS view.
import Juggernaut = require("juggernautd-client");

const options: Juggernaut.Options = { host: "127.0.0.1", port: "8080" };
const jug: Juggernaut = new Juggernaut(options);
jug.subscribe("chat", (data) => console.log(data));
jug.on("gap", (channel: string | undefined, info: Juggernaut.GapInfo) => console.log(channel, info));
