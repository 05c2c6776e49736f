#!/usr/bin/env node
// The `cdk-assets` CDK Pipelines runs in its Assets stage, for the one command it generates:
//
//   cdk-assets --path "<assembly>/<stack>.assets.json" [--verbose] publish "<asset>:<destination>"...
//
// Why ours: CDK Pipelines installs npm's cdk-assets, and no release of it reads the cloud
// assembly schema aws-cdk-lib 2.275 writes (cdk-assets 4.7.3 bundles schema 54; our manifests
// are 55.0.0: "Maximum schema version supported is 54.x.x, but found 55.0.0"). This is the
// same library cdk-assets publishes with (@aws-cdk/cdk-assets-lib), with the schema pinned in
// package-lock.json beside it: assets are built, checked and uploaded exactly as cdk-assets
// would, assuming each destination's publishing role from the manifest.
'use strict';

const {
  AssetManifest, AssetPublishing, DefaultAwsClient, DestinationPattern,
} = require('@aws-cdk/cdk-assets-lib');

const USAGE = 'usage: cdk-assets --path <manifest.assets.json> [--verbose] publish [ASSET[:DEST]...]';

/** The one invocation we accept; anything else is an error, never a silent no-op. */
function parseArgs(argv) {
  const args = { path: undefined, verbose: false, command: undefined, selectors: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--path') {
      args.path = argv[++i];
    } else if (arg === '--verbose' || arg === '-v') {
      args.verbose = true;
    } else if (args.command === undefined && !arg.startsWith('-')) {
      args.command = arg;
    } else if (args.command !== undefined && !arg.startsWith('-')) {
      args.selectors.push(arg);
    } else {
      throw new Error(`unknown option ${arg}; ${USAGE}`);
    }
  }
  if (!args.path || args.command !== 'publish') {
    throw new Error(USAGE);
  }
  return args;
}

/** Logs as cdk-assets does: progress on stderr, detail only with --verbose. */
function progress(verbose) {
  const quiet = new Set(['build', 'cached', 'check', 'debug', 'found', 'upload']);
  return {
    onPublishEvent(type, event) {
      if (verbose || !quiet.has(type) && !type.startsWith('shell_')) {
        console.error(`[${event.percentComplete}%] ${type}: ${event.message}`);
      }
    },
  };
}

async function main(argv) {
  const args = parseArgs(argv);
  let manifest = AssetManifest.fromPath(args.path);
  if (args.selectors.length > 0) {
    manifest = manifest.select(args.selectors.map((s) => DestinationPattern.parse(s)));
  }
  if (manifest.entries.length === 0) {
    // A selector that matches nothing is a pipeline built from another assembly: fail.
    throw new Error(`no asset of ${args.path} matches ${args.selectors.join(' ')}`);
  }
  const publishing = new AssetPublishing(manifest, {
    aws: new DefaultAwsClient(),
    progressListener: progress(args.verbose),
    throwOnError: false,
  });
  await publishing.publish();
  for (const failure of publishing.failures) {
    console.error('Failure:', failure.error.stack);
  }
  return publishing.hasFailures ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (error) => { console.error(`cdk-assets: ${error.message}`); process.exitCode = 2; },
);
