// A real SMTP server for tests on 127.0.0.1. Prints one JSON line per event on stdout:
//   {"event":"message","from":...,"to":[...],"user":...,"secure":bool,"data":"<raw RFC 5322 text>"}
//   {"event":"auth","user":...,"secure":bool,"accepted":bool}   (every AUTH that reached the server, before checking it)
// Usage: node server.js [port] [--mode=plain|starttls|tls] [--key=FILE --cert=FILE] [--require-auth]
//   port 0 = a free port.
//   plain     no TLS at all, STARTTLS not offered; AUTH is still accepted in clear (so a careless client would send it)
//   starttls  STARTTLS offered; AUTH is also accepted before it, so a client that authenticates too early is recorded
//   tls       implicit TLS from the first byte (what port 465 speaks)
//   --require-auth  MAIL needs AUTH with SMTP_EMULATOR_USER / SMTP_EMULATOR_PASS (environment, not argv)
// Prints SMTP_READY <port> once listening; exits when stdin closes.
"use strict";
const fs = require("fs");
const { SMTPServer } = require("smtp-server");

const args = process.argv.slice(2);
const option = (name) => {
  const found = args.find((a) => a.startsWith(`--${name}=`));
  return found ? found.slice(name.length + 3) : undefined;
};
const port = Number(args.find((a) => !a.startsWith("--")) || process.env.SMTP_EMULATOR_PORT || 0);
const mode = option("mode") || "plain";
const requireAuth = args.includes("--require-auth");
if (!["plain", "starttls", "tls"].includes(mode)) {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exit(2);
}

const tls = mode === "plain" ? {} : { key: fs.readFileSync(option("key")), cert: fs.readFileSync(option("cert")) };
const emit = (event) => process.stdout.write(JSON.stringify(event) + "\n");

const server = new SMTPServer({
  ...tls,
  secure: mode === "tls",
  disabledCommands: mode === "plain" ? ["STARTTLS"] : [],
  allowInsecureAuth: true,
  authOptional: !requireAuth,
  logger: false,
  onAuth(auth, session, callback) {
    const accepted = !requireAuth
      || (auth.username === process.env.SMTP_EMULATOR_USER && auth.password === process.env.SMTP_EMULATOR_PASS);
    emit({ event: "auth", user: auth.username || null, secure: !!session.secure, accepted });
    if (!accepted) {
      return callback(new Error("Invalid username or password"));
    }
    callback(null, { user: auth.username });
  },
  onData(stream, session, callback) {
    const chunks = [];
    stream.on("data", (chunk) => chunks.push(chunk));
    stream.on("end", () => {
      emit({
        event: "message",
        from: session.envelope.mailFrom && session.envelope.mailFrom.address,
        to: session.envelope.rcptTo.map((r) => r.address),
        user: session.user || null,
        secure: !!session.secure,
        data: Buffer.concat(chunks).toString("utf8"),
      });
      callback();
    });
  },
});

// A client that refuses our certificate shows up here as a failed handshake; that is what some tests expect.
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
