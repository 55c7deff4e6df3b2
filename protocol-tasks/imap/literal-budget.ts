// A process-wide budget for APPEND literal data held in memory (checklist B10, DESIGN §5
// invariant 6). The receiver keeps a literal's bytes until the command has run, so without a
// shared cap many sessions could each announce a message at the size limit and together
// exhaust memory. A literal that does not fit is refused before the "+" (or, for LITERAL+,
// skipped) with NO [LIMIT]; the client may try again a moment later.

export class LiteralBudget {
  private used = 0;

  constructor(readonly max: number) {}

  get inUse(): number {
    return this.used;
  }

  tryTake(n: number): boolean {
    if (this.used + n > this.max) return false;
    this.used += n;
    return true;
  }

  give(n: number): void {
    this.used = Math.max(0, this.used - n);
  }
}

/** Default: 256 MiB (IMAP_APPEND_MEMORY_MB), enough for four messages at the size limit at once. */
export const appendBudget = new LiteralBudget(Number(process.env.IMAP_APPEND_MEMORY_MB || 256) * 1024 * 1024);
