/**
 * ao-event-vacuum: lifts structured events out of ao Processes' logs.
 *
 * @since 0.1.0
 */

/** The evaluation record and its log-text rule. */
export * as Evaluation from "./Evaluation.js"

/** From log text to events, with an account of every line. */
export * as Extractor from "./Extractor.js"
