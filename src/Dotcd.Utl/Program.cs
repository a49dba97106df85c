return Dotcd.Utl.UtlMain.Run(args, Console.Out, Console.Error);
