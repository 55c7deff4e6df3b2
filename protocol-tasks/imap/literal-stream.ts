// Large APPEND literals stream to storage as they arrive (issue 4: memory stays bounded
// whatever the message size). The receiver hands the octets of an APPEND literal of at least
// STREAM_APPEND_MIN octets to an AppendSink instead of keeping them; the sink feeds a
// MessageStage (core/store/stage.ts: line ends normalised, spooled for indexing, blob written
// as it arrives: an S3 multipart upload on the AWS adapter). The APPEND command then claims the
// staged message and appends its metadata; a staged message that no command claims (a
// refused or failed command, a dropped connection) is released and its blob deleted.
//
// Flow control: when the stage falls behind (its backlog passes the high-water mark), the
// connection is paused until it drains, so a fast client cannot fill memory.

import { MessageStage } from '../../core/store/stage.js';
import type { Store } from '../../core/store/port.js';
import type { LiteralInfo, LiteralSink } from './codec/receiver.js';

/** APPEND literals at least this big stream to storage (IMAP_STREAM_APPEND_BYTES). Default 1 MiB. */
export const STREAM_APPEND_MIN = Number(process.env.IMAP_STREAM_APPEND_BYTES || 1024 * 1024);

export interface Flow {
  pause(): void;
  resume(): void;
}

export class AppendSink implements LiteralSink {
  private paused = false;

  constructor(
    readonly stage: MessageStage,
    private readonly flow: Flow,
  ) {}

  write(chunk: Buffer): void {
    this.stage.write(chunk);
    if (!this.paused && this.stage.backlog > this.stage.highWaterMark) {
      this.paused = true;
      this.flow.pause();
      this.stage.onDrain(() => {
        this.paused = false;
        this.flow.resume();
      });
    }
  }

  end(): void {
    this.stage.end();
  }

  abort(): void {
    this.stage.abort(); // runs the drain callbacks: input resumes
  }
}

/** A sink for this literal when it should stream (APPEND, logged in, big enough), else null. */
export function appendSinkFor(info: LiteralInfo, store: Store, accountId: string | null, flow: Flow): AppendSink | null {
  if (info.command !== 'APPEND' || accountId === null || info.size < STREAM_APPEND_MIN) return null;
  return new AppendSink(new MessageStage(store, accountId), flow);
}

/** The staged message behind an APPEND message's sink, if it was streamed by us. */
export function stageOf(sink: unknown): MessageStage | null {
  return sink instanceof AppendSink ? sink.stage : null;
}
