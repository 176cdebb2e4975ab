// Type declarations for the ES module build of juggernautd-client:
//   import Juggernaut from "juggernautd-client";      (or: import { Juggernaut } ...)
// The declarations themselves are in index.d.ts.

import Juggernaut = require("./index.js");

export default Juggernaut;
export { Juggernaut };
