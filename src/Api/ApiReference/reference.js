// Starts Scalar's reference on this gateway's own document. Everything comes from this origin: no CDN, no web fonts,
// no telemetry, and "try it" calls go straight to this gateway (no Scalar proxy).
Scalar.createApiReference('#app', {
  url: new URL('/openapi/v1.json', window.location.origin).toString(),
  baseServerURL: window.location.origin,
  withDefaultFonts: false,
  telemetry: false,
  hideClientButton: true,
  showDeveloperTools: 'never',
  documentDownloadType: 'json',
  // Scalar's "Ask AI" talks to Scalar's own service.
  agent: { disabled: true },
});
