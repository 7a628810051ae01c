/** One server-sent event: its `event:` name, if any, and its data lines joined by newlines. */
export interface ServerSentEvent {
  event: string | undefined;
  data: string;
}

/**
 * Reads `text/event-stream` as events arrive, by the WHATWG rules that matter here: comments, multi-line data, CR, LF
 * and CRLF line ends. An event the stream ends in the middle of is dropped, as those rules say.
 */
export async function* readServerSentEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<ServerSentEvent> {
  const decoder = new TextDecoder();
  const reader = body.getReader();
  let buffer = "";
  let event: string | undefined;
  let data: string[] | undefined;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      buffer += done ? decoder.decode() : decoder.decode(value, { stream: true });
      let lineEnd: number;
      while ((lineEnd = buffer.search(/\r\n|\r|\n/)) >= 0) {
        // A lone CR at the end of the buffer may be the first half of a CRLF: wait for the next chunk.
        if (buffer[lineEnd] === "\r" && lineEnd === buffer.length - 1 && !done) {
          break;
        }
        const line = buffer.slice(0, lineEnd);
        buffer = buffer.slice(lineEnd + (buffer.startsWith("\r\n", lineEnd) ? 2 : 1));
        if (line === "") {
          if (data !== undefined) {
            yield { event, data: data.join("\n") };
          }
          event = undefined;
          data = undefined;
          continue;
        }
        if (line.startsWith(":")) {
          continue;
        }
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? "" : line.slice(colon + 1);
        if (value.startsWith(" ")) {
          value = value.slice(1);
        }
        if (field === "event") {
          event = value;
        } else if (field === "data") {
          (data ??= []).push(value);
        }
      }
      if (done) {
        return;
      }
    }
  } finally {
    // Stops the download when the caller leaves the loop early.
    await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}
