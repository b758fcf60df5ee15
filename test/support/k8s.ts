/** kubernetes-models' validation error text, or undefined when the object is valid. */
export function invalid(validate: () => void): string | undefined {
  try {
    validate();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}
