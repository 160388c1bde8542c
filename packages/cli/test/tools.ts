// The upstream servers some proxy tests drive (Debian packages: php-cli, lighttpd, python3-hypercorn), on the
// one tool helper of the suite (test-fixtures/tools.ts): a missing one skips with the reason, and fails
// under PEERAUTH_REQUIRE_TOOLS=1 (CI, which installs them). Here `findTool` is the probing kind.
export {
  describeWithTools,
  pythonWith,
  type Tool,
  workingTool as findTool,
} from '../../../test-fixtures/tools.js';
