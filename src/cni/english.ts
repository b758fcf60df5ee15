import type * as z from 'zod/mini';
import { en } from 'zod/locales';

/**
 * zod/mini carries no locale: without one, zod's own messages ("expected number, received
 * string") all read "Invalid input". Passed to each parse whose messages a user reads, rather
 * than set as zod's global config when a module loads.
 */
export const ENGLISH: z.core.ParseContext<z.core.$ZodIssue> = { error: en().localeError };
