import { describe, expect, it } from "@effect/vitest";
import { Chunk, Effect, Stream } from "effect";
import type { ProcessEvent } from "../src/domain/events.js";
import { ProcessId } from "../src/domain/ids.js";
import { testRunner } from "./harness.js";

const outputText = (events: ReadonlyArray<ProcessEvent>) =>
	Buffer.concat(
		events.flatMap((e) => (e._tag === "output" ? [Buffer.from(e.data)] : [])),
	).toString("utf8");

describe("spawn in tmux", () => {
	it.scopedLive("streams output then the exit code", () =>
		Effect.gen(function* () {
			const { monitor } = yield* testRunner();
			const handle = yield* monitor.spawn(
				"sh",
				["-c", "echo hello; echo world; exit 3"],
				{
					processId: ProcessId("exit-three"),
					cwd: "/tmp",
				},
			);
			const events = Chunk.toReadonlyArray(
				yield* Stream.runCollect(handle.events),
			);
			expect(outputText(events)).toContain("hello\r\nworld");
			const last = events[events.length - 1];
			expect(last).toMatchObject({ _tag: "exit", exitCode: 3, signal: null });
			// Offsets are contiguous from 0.
			let expected = 0;
			for (const e of events) {
				if (e._tag !== "output") continue;
				expect(e.offset).toBe(expected);
				expected += e.data.length;
			}
		}),
	);
});
