// pg's lib/stream.js without its Cloudflare detection (scripts/build.mjs): the Node.js branch of
// pg 8.x's getStreamFuncs(), verbatim in behaviour.
'use strict';

module.exports = {
  getStream(_ssl) {
    const net = require('net');
    return new net.Socket();
  },
  getSecureStream(options) {
    const tls = require('tls');
    return tls.connect(options);
  },
};
