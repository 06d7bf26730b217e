// One process per transport: @qlik/api caches tokens per client and scope, not per host.
import { defineQlikApiSuite } from '../lib/suites/qlik-api.js';

defineQlikApiSuite('http');
