export async function localStop(..._args: unknown[]): Promise<void> {}
