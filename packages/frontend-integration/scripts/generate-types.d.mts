export const DOCUMENT: string;
export function apiDocument(document: unknown): unknown;
export function expectedFiles(documentText: string): Promise<Map<string, string>>;
export function staleFiles(): Promise<string[]>;
