import TramCollectorStore
import TramJSON

/// The read API's held values (`GET /v1/points/{gateway}/{device}/{point}?from=&to=&step=`): for the instants from,
/// from + step, … before `to`, the value the point held at each (``CollectorStore/held(gateway:device:point:from:to:step:limit:)``),
/// so a consumer of a sparse (report-by-exception) series needs no hold rule of its own.
enum HeldValuesAnswer {
    /// A query that cannot be answered: 400, before the store is asked; nil when it can.
    static func refusal(from: Int64?, to: Int64?, step: Int64) -> Answer? {
        guard from != nil, to != nil else {
            return .reject(400, "bad-query", [("detail", .string("step needs from and to (ms since 1970)"))])
        }
        guard step > 0 else {
            return .reject(400, "bad-query", [("detail", .string("step is a positive number of milliseconds"))])
        }
        return nil
    }

    static func answer(
        _ store: CollectorStore, names: [String], from: Int64, to: Int64, step: Int64, limit: Int
    ) throws -> Answer {
        guard
            let held = try store.held(
                gateway: names[0], device: names[1], point: names[2], from: from, to: to, step: step, limit: limit)
        else {
            return .reject(404, "not-found", [("detail", .string("no such point"))])
        }
        return Answer(
            status: 200,
            body: .object([
                ("gateway", .string(names[0])), ("device", .string(names[1])), ("point", .string(names[2])),
                ("step_ms", .int(step)),
                (
                    "held",
                    .array(
                        held.map { value in
                            .object([
                                ("time_ms", .int(value.timeMilliseconds)),
                                ("value", value.value.map { .double($0) } ?? .null),
                                ("reading_ms", value.readingMilliseconds.map { .int($0) } ?? .null),
                            ])
                        })
                ),
            ]))
    }
}
