#!/usr/bin/env node
// Package bin for `npx mailctl`: runs the TypeScript CLI through tsx.
import { register } from 'tsx/esm/api';
register();
process.env.MAILCTL_MAIN = '0';
const { run } = await import('../core/admin/mailctl.ts');
process.exit(await run(process.argv.slice(2)));
