export async function localStatus(..._args: unknown[]): Promise<void> {}
