// Stand-ins for the parts of prom-client the agent never uses (scripts/build.mjs, issue 18: idle
// RSS): its Pushgateway client, whose module loads Node's https, tls and zlib at start-up, and
// @opentelemetry/api, which prom-client reads only for exemplars (`enableExemplars`, never set
// by the agent). Both throw if something starts using them, so nothing fails silently.
'use strict';

function unused(what) {
  return new Error(`${what} is not part of the attune-agent bundle (scripts/build.mjs promClientUnused)`);
}

class Pushgateway {
  constructor() {
    throw unused("prom-client's Pushgateway");
  }
}

const otel = new Proxy(
  {},
  {
    get(_target, key) {
      throw unused(`@opentelemetry/api (${String(key)}), used by prom-client only for exemplars,`);
    },
  },
);

module.exports = { Pushgateway, otel };
