// The `faultline` command line: real nodes on real sockets.
//
// The real-node host (client port, cluster bus, persistence, TLS) lands with the real-nodes
// work; until then this command says so plainly instead of pretending.

import yargs from "yargs";
import { hideBin } from "yargs/helpers";
import { VERSION } from "../sim/version.js";

export async function cli(): Promise<void> {
  await yargs(hideBin(process.argv))
    .scriptName("faultline")
    .usage(
      "$0 <command> [options]\n\nRuns Faultline nodes on real TCP sockets. No commands are available yet: the real-node host\n(faultline node, faultline cluster, faultline local) is not built. Use `sim` to run the same\nprotocols in the simulator: npx sim --help",
    )
    .version(VERSION)
    .help()
    .alias("h", "help")
    .strict()
    .command("$0", false, () => {}, () => {
      process.stderr.write("faultline: no commands yet; real nodes are not built. See `faultline --help`, or try `npx sim --help`.\n");
      process.exitCode = 2;
    })
    .parseAsync();
}
