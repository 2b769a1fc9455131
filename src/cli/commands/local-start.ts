export async function localStart(..._args: unknown[]): Promise<void> {}
