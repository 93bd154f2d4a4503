// puppeteer (pulled in by whatsapp-web.js for the optional whatsapp-web channel) must never download a browser:
// installs run with ignore-scripts (see .npmrc) and offline-safe, and the channel launches the system Chromium set
// in WHATSAPP_WEB_CHROMIUM (default /usr/bin/chromium) instead. This keeps a later `npm install` or an
// `npx puppeteer browsers install` from fetching Chrome by accident.
module.exports = { skipDownload: true };
