'use client';
import { useRouter } from 'next/navigation';
import { type FormEvent, useState } from 'react';

export function SignInForm() {
  const router = useRouter();
  const [error, setError] = useState<string | null>(null);
  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const response = await fetch('/api/pyat/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email: form.get('email'), password: form.get('password') }),
    });
    if (!response.ok) {
      const body = (await response.json().catch(() => null)) as {
        error?: { message?: string };
      } | null;
      setError(body?.error?.message ?? 'Signing in failed.');
      return;
    }
    router.replace('/');
    router.refresh();
  }
  return (
    <form className="signin" onSubmit={submit}>
      <h1>Sign in</h1>
      <input name="email" type="email" placeholder="Email" aria-label="Email" required />
      <input
        name="password"
        type="password"
        placeholder="Password"
        aria-label="Password"
        required
      />
      <button type="submit">Sign in</button>
      {error && <p role="alert">{error}</p>}
    </form>
  );
}
