import { redirect } from 'next/navigation';
import { SignInForm } from '../../components/SignInForm';
import { pyat } from '../../lib/pyat';

export const dynamic = 'force-dynamic';

export default async function SignInPage() {
  if (await pyat.getServerSession()) redirect('/');
  return <SignInForm />;
}
