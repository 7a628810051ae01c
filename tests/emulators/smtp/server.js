// A real SMTP server for tests: accepts every message on 127.0.0.1 and prints each one as a JSON line
// {"event":"message","from":...,"to":[...],"data":"<raw RFC 5322 text>"} on stdout.
// Usage: node server.js [port]   (0 = a free port). Prints SMTP_READY <port> once listening; exits when stdin closes.
"use strict";
const { SMTPServer } = require("smtp-server");

const port = Number(process.argv[2] || process.env.SMTP_EMULATOR_PORT || 0);
const server = new SMTPServer({
  secure: false,
  disabledCommands: ["STARTTLS"],
  authOptional: true,
  logger: false,
  onAuth(auth, session, callback) {
    callback(null, { user: auth.username });
  },
  onData(stream, session, callback) {
    const chunks = [];
    stream.on("data", (chunk) => chunks.push(chunk));
    stream.on("end", () => {
      const message = {
        event: "message",
        from: session.envelope.mailFrom && session.envelope.mailFrom.address,
        to: session.envelope.rcptTo.map((r) => r.address),
        user: session.user || null,
        data: Buffer.concat(chunks).toString("utf8"),
      };
      process.stdout.write(JSON.stringify(message) + "\n");
      callback();
    });
  },
});

server.on("error", (err) => process.stderr.write(`smtp error: ${err.message}\n`));
server.listen(port, "127.0.0.1", () => {
  process.stdout.write(`SMTP_READY ${server.server.address().port}\n`);
});

const stop = () => server.close(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
if (!process.stdin.isTTY) {
  process.stdin.on("end", stop);
  process.stdin.resume();
}
