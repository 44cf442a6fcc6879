// Why a target is missed, as the CPU profiles of the recorded run show it. Printed next to a target
// only when that target is missed, so the results file never hides a miss behind a number.

export const EXPLANATIONS: Record<string, string> = {};
