import { defineQlikSdkSuite } from '../lib/suites/qlik-sdk.js';

defineQlikSdkSuite('https');
