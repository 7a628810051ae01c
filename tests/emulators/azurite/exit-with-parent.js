// Preloaded with `node --require` before Azurite's Table service: ends the process when the test run that started it
// goes away (its stdin pipe closes), even after a crash that ran no clean-up. Azurite itself only stops on SIGINT.
"use strict";
const fs = require("fs");

let piped = false;
try {
  const stdin = fs.fstatSync(0);
  piped = stdin.isFIFO() || stdin.isSocket(); // a parent holds our stdin; /dev/null or a TTY is not watched
} catch {
  piped = false;
}

if (piped) {
  for (const event of ["end", "close", "error"]) {
    process.stdin.on(event, () => process.exit(0));
  }
  process.stdin.resume(); // discard anything written to us
}
